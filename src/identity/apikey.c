/*
 * API keys: their format, the store of hashed keys the gateway checks
 * them against, and `apiward key new`, which makes them.
 *
 * The gateway never holds a secret. What it keeps per key is the id and
 * HMAC-SHA-256 of the secret under a pepper that lives in another file,
 * so that a leaked keys file (a backup, a config repository) is useless
 * on its own and the 256-bit secrets are out of reach of any guessing.
 * The HMAC covers the 43 base64url characters of the secret as sent,
 * which lets anyone check a line with standard tools.
 *
 * A presented key is split and checked for shape first; then its id is
 * looked up in an open-addressing table built at load and the HMAC of
 * its secret is computed and compared in constant time, whether the id
 * was found or not, so that an unknown id and a wrong secret look the
 * same from outside. The id is not secret, and the few probes of the
 * lookup depend only on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "identity/identity.h"
#include "identity/identity_int.h"

#define APIKEY_MAC_LEN 32
#define APIKEY_FILE_MAX ((size_t)64 << 20)
#define APIKEY_NO_START INT64_MIN
#define APIKEY_NO_END INT64_MAX

static const char apikey_prefix[] = APIKEY_PREFIX "_";
static const char apikey_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char apikey_id_alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
static const char apikey_hex_digits[] = "0123456789abcdef";

/* One line of the keys file. Fixed-size fields: a store is one array. */
struct apikey_entry {
    char id[APIKEY_ID_MAX + 1];
    char consumer[APIKEY_CONSUMER_MAX + 1];
    unsigned char mac[APIKEY_MAC_LEN];
    unsigned char id_len;
    unsigned char consumer_len;
    bool revoked;
    unsigned line;          /* in the keys file, for messages */
    int64_t not_before;     /* APIKEY_NO_START when "-" */
    int64_t expires;        /* APIKEY_NO_END when "-" */
};

struct apikey_store {
    struct apikey_entry *keys;
    size_t nkeys;
    size_t cap;
    uint32_t *slots;        /* index + 1 into keys; 0 is an empty slot */
    size_t mask;            /* slots has mask + 1 entries, a power of 2 */
    EVP_MAC_CTX *mac;       /* keyed with the pepper; only duplicated */
};

/* A presented key cut in its two variable parts, borrowed from it. */
struct apikey_parts {
    struct slice id;
    struct slice secret;
};

/* ------------------------------------------------------------------ */
/* Shapes                                                              */
/* ------------------------------------------------------------------ */

/* True when every byte of s is one of the NUL-terminated set. */
static bool
apikey_all_in(struct slice s, const char *set)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '\0' || strchr(set, s.ptr[i]) == NULL)
            return false;
    }
    return true;
}

/* An id: 8 to 16 characters of a-z 0-9. */
static bool
apikey_id_valid(struct slice id)
{
    return id.len >= APIKEY_ID_MIN && id.len <= APIKEY_ID_MAX &&
           apikey_all_in(id, apikey_id_alphabet);
}

/* A consumer name: 1 to 64 characters of A-Z a-z 0-9 _ . -. */
static bool
apikey_consumer_valid(struct slice c)
{
    return c.len >= 1 && c.len <= APIKEY_CONSUMER_MAX &&
           apikey_all_in(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "abcdefghijklmnopqrstuvwxyz0123456789_.-");
}

/*
 * A secret is exactly 43 base64url characters. 43 characters carry 258
 * bits for 256 bits of data: the last character's two low bits must be
 * zero, so that one secret has one spelling.
 */
static bool
apikey_secret_valid(struct slice s)
{
    const char *last;

    if (s.len != APIKEY_SECRET_CHARS || !apikey_all_in(s, apikey_b64_alphabet))
        return false;
    last = strchr(apikey_b64_alphabet, s.ptr[s.len - 1]);
    return ((last - apikey_b64_alphabet) & 3) == 0;
}

/*
 * Split "aw_<id>_<secret>" into parts. The id alphabet has no '_', so
 * the first '_' after the prefix ends the id; the secret alphabet does
 * have '_', and its fixed length catches any extra one. The length is
 * bounded before anything else is looked at.
 */
static bool
apikey_split(struct slice key, struct apikey_parts *k)
{
    size_t plen = sizeof(apikey_prefix) - 1;
    const char *rest, *end, *us;

    if (key.len > APIKEY_MAX_LEN || key.len < plen ||
        memcmp(key.ptr, apikey_prefix, plen) != 0)
        return false;
    rest = key.ptr + plen;
    end = key.ptr + key.len;
    us = memchr(rest, '_', (size_t)(end - rest));
    if (us == NULL)
        return false;
    k->id = (struct slice){rest, (size_t)(us - rest)};
    k->secret = (struct slice){us + 1, (size_t)(end - us - 1)};
    return apikey_id_valid(k->id) && apikey_secret_valid(k->secret);
}

/* Write n bytes as 2n lowercase hex digits and a NUL to out. */
static void
apikey_hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = apikey_hex_digits[in[i] >> 4];
        out[2 * i + 1] = apikey_hex_digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Decode exactly 2n lowercase hex digits; false for anything else. */
static bool
apikey_unhex(struct slice s, unsigned char *out, size_t n)
{
    if (s.len != 2 * n || !apikey_all_in(s, apikey_hex_digits))
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *hi = strchr(apikey_hex_digits, s.ptr[2 * i]);
        const char *lo = strchr(apikey_hex_digits, s.ptr[2 * i + 1]);

        out[i] = (unsigned char)((hi - apikey_hex_digits) << 4 |
                                 (lo - apikey_hex_digits));
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Times                                                               */
/* ------------------------------------------------------------------ */

/*
 * Match s against tmpl, where each 'd' is a decimal digit and any other
 * byte stands for itself, and collect each run of digits as a number in
 * f (nf of them expected).
 */
static bool
apikey_template(struct slice s, const char *tmpl, unsigned *f, size_t nf)
{
    size_t k = 0;

    memset(f, 0, nf * sizeof(*f));
    if (s.len != strlen(tmpl))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];

        if (tmpl[i] != 'd') {
            if (c != tmpl[i])
                return false;
            continue;
        }
        if (c < '0' || c > '9')
            return false;
        if (i == 0 || tmpl[i - 1] != 'd') {
            if (k == nf)
                return false;
            k++;
        }
        f[k - 1] = f[k - 1] * 10 + (unsigned)(c - '0');
    }
    return k == nf;
}

static bool
apikey_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to the start of year y (y >= 1970). */
static int64_t
apikey_year_days(unsigned y)
{
    int64_t p = (int64_t)y - 1;

    return 365 * ((int64_t)y - 1970) + (p / 4 - p / 100 + p / 400) -
           (1969 / 4 - 1969 / 100 + 1969 / 400);
}

/*
 * Parse "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, UTC, whole seconds, upper
 * case T and Z), or with day_ok also "YYYY-MM-DD", into unix seconds.
 * Years 1970 to 9999; every field is range-checked, so 02-30 and a leap
 * second 23:59:60 are refused rather than rolled over.
 */
static bool
apikey_time_parse(struct slice s, bool day_ok, int64_t *out)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
    static const unsigned before[] = {0,   31,  59,  90,  120, 151,
                                      181, 212, 243, 273, 304, 334};
    unsigned f[6];
    unsigned dim;

    if (!apikey_template(s, "dddd-dd-ddTdd:dd:ddZ", f, 6) &&
        !(day_ok && apikey_template(s, "dddd-dd-dd", f, 3)))
        return false;
    if (f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[3] > 23 || f[4] > 59 ||
        f[5] > 59)
        return false;
    dim = mdays[f[1] - 1] + (f[1] == 2 && apikey_leap(f[0]));
    if (f[2] < 1 || f[2] > dim)
        return false;
    *out = (apikey_year_days(f[0]) + before[f[1] - 1] +
            (f[1] > 2 && apikey_leap(f[0])) + f[2] - 1) * 86400 +
           f[3] * 3600 + f[4] * 60 + f[5];
    return true;
}

/* "-" (no bound: none is kept) or a time; false for anything else. */
static bool
apikey_bound_parse(struct slice s, int64_t none, int64_t *out)
{
    if (s.len == 1 && s.ptr[0] == '-') {
        *out = none;
        return true;
    }
    return apikey_time_parse(s, false, out);
}

/* ------------------------------------------------------------------ */
/* HMAC                                                                */
/* ------------------------------------------------------------------ */

/* An HMAC-SHA-256 context keyed with the pepper, to be duplicated. */
static int
apikey_mac_new(const unsigned char *pepper, size_t len, EVP_MAC_CTX **out)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    int rc = AW_OK;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_MAC_init(ctx, pepper, len, params) != 1) {
        ERR_clear_error();
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
        rc = AW_NOMEM;
    }
    EVP_MAC_free(mac);
    *out = ctx;
    return rc;
}

/*
 * HMAC of the secret's characters with a copy of the keyed template,
 * which is only read, so threads may share it. AW_NOMEM or AW_ERROR
 * when OpenSSL fails.
 *
 * The copy is one small allocation inside OpenSSL per verification, as
 * for HS* tokens. A context kept per worker thread would avoid it, but
 * would then have to follow the store across reloads.
 */
static int
apikey_mac(const EVP_MAC_CTX *tmpl, struct slice secret,
           unsigned char mac[APIKEY_MAC_LEN])
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(tmpl);
    size_t n = 0;
    int rc = AW_OK;

    if (ctx == NULL)
        return AW_NOMEM;
    if (EVP_MAC_update(ctx, (const unsigned char *)secret.ptr,
                       secret.len) != 1 ||
        EVP_MAC_final(ctx, mac, &n, APIKEY_MAC_LEN) != 1 ||
        n != APIKEY_MAC_LEN) {
        ERR_clear_error();
        rc = AW_ERROR;
    }
    EVP_MAC_CTX_free(ctx);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

static int apikey_fail(char *err, size_t errlen, int rc, const char *fmt,
                       ...) AW_PRINTF(4, 5);

/* Format a message into err (when there is room) and return rc. */
static int
apikey_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Read n bytes from fd into buf; AW_IO on an error or an early end. */
static int
apikey_read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return AW_IO;
        got += (size_t)r;
    }
    return AW_OK;
}

/*
 * Read the regular file at path, of at most max bytes, into a malloc'd
 * buffer *data (the caller frees it) of *len bytes; *mode receives its
 * permission bits. AW_IO, AW_TOOBIG or AW_NOMEM with a message.
 */
static int
apikey_slurp(const char *path, size_t max, char **data, size_t *len,
             mode_t *mode, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int rc = AW_OK;

    *data = NULL;
    if (fd < 0)
        return apikey_fail(err, errlen, AW_IO, "%s: cannot open: %s", path,
                           strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = apikey_fail(err, errlen, AW_IO, "%s: not a regular file", path);
        goto done;
    }
    if ((uint64_t)st.st_size > max) {
        rc = apikey_fail(err, errlen, AW_TOOBIG,
                         "%s: larger than %zu bytes", path, max);
        goto done;
    }
    *len = (size_t)st.st_size;
    *mode = st.st_mode & 07777;
    *data = malloc(*len + 1);
    if (*data == NULL) {
        rc = apikey_fail(err, errlen, AW_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (apikey_read_all(fd, *data, *len) != AW_OK)
        rc = apikey_fail(err, errlen, AW_IO, "%s: read failed", path);
done:
    close(fd);
    return rc;
}

/*
 * Read the pepper file into a keyed HMAC template. The pepper is wiped
 * from memory as soon as OpenSSL has it, and no message quotes it.
 */
static int
apikey_pepper_load(const char *path, EVP_MAC_CTX **out, char *err,
                   size_t errlen)
{
    char *data = NULL;
    size_t size = 0, len;
    mode_t mode = 0;
    int rc;

    *out = NULL;
    rc = apikey_slurp(path, APIKEY_PEPPER_MAX + 1, &data, &size, &mode, err,
                      errlen);
    if (rc != AW_OK)
        goto done;
    if (mode & (S_IRWXG | S_IRWXO))
        log_warn("%s: the pepper file is open to group or others (mode "
                 "%04o); 0400 or 0600 is expected", path, (unsigned)mode);
    len = size > 0 && data[size - 1] == '\n' ? size - 1 : size;
    if (len < APIKEY_PEPPER_MIN || len > APIKEY_PEPPER_MAX) {
        rc = apikey_fail(err, errlen, AW_INVALID,
                         "%s: the pepper must be %d to %d bytes, not %zu",
                         path, APIKEY_PEPPER_MIN, APIKEY_PEPPER_MAX, len);
        goto done;
    }
    rc = apikey_mac_new((const unsigned char *)data, len, out);
    if (rc != AW_OK)
        apikey_fail(err, errlen, rc, "%s: cannot key HMAC-SHA-256", path);
done:
    if (data != NULL)
        OPENSSL_cleanse(data, size);
    free(data);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The keys file                                                       */
/* ------------------------------------------------------------------ */

/*
 * Cut line at runs of spaces and tabs into at most max fields. Returns
 * the number of fields present, which may exceed max (only the first
 * max are stored).
 */
static size_t
apikey_fields(struct slice line, struct slice *f, size_t max)
{
    size_t n = 0, i = 0;

    while (i < line.len) {
        size_t start;

        while (i < line.len && (line.ptr[i] == ' ' || line.ptr[i] == '\t'))
            i++;
        if (i == line.len)
            break;
        start = i;
        while (i < line.len && line.ptr[i] != ' ' && line.ptr[i] != '\t')
            i++;
        if (n < max)
            f[n] = (struct slice){line.ptr + start, i - start};
        n++;
    }
    return n;
}

/* Why the bytes of a line are unacceptable, or NULL when they are not. */
static const char *
apikey_line_bytes(struct slice line)
{
    if (line.len > APIKEY_LINE_MAX)
        return "line longer than 512 bytes";
    for (size_t i = 0; i < line.len; i++) {
        unsigned char c = (unsigned char)line.ptr[i];

        if (c == '\r')
            return "carriage return (the file must have LF line ends)";
        if ((c < 0x20 && c != '\t') || c > 0x7e)
            return "control byte or non-ASCII byte";
    }
    return NULL;
}

/*
 * Fill e from the five fields of a line. Returns NULL, or why the line
 * is refused (a fixed sentence: the file holds no secret, but the line
 * is still not quoted, to keep messages short and escaping-free).
 */
static const char *
apikey_entry_parse(const struct slice *f, struct apikey_entry *e)
{
    size_t plen = sizeof(apikey_prefix) - 1;

    if (f[0].len > plen && memcmp(f[0].ptr, apikey_prefix, plen) == 0)
        return "a whole API key; the file takes its id and HMAC only "
               "(treat that key as leaked and replace it)";
    if (!apikey_id_valid(f[0]))
        return "key id must be 8 to 16 characters of a-z 0-9";
    if (!apikey_consumer_valid(f[1]))
        return "consumer must be 1 to 64 characters of A-Z a-z 0-9 _ . -";
    if (!apikey_unhex(f[2], e->mac, APIKEY_MAC_LEN))
        return "HMAC must be 64 lowercase hex digits";
    if (!apikey_bound_parse(f[3], APIKEY_NO_START, &e->not_before))
        return "not_before must be - or a time like 2026-12-31T00:00:00Z";
    if (!apikey_bound_parse(f[4], APIKEY_NO_END, &e->expires))
        return "expires must be - or a time like 2026-12-31T00:00:00Z";
    if (e->not_before >= e->expires)
        return "not_before must be earlier than expires";
    memcpy(e->id, f[0].ptr, f[0].len);
    e->id_len = (unsigned char)f[0].len;
    memcpy(e->consumer, f[1].ptr, f[1].len);
    e->consumer_len = (unsigned char)f[1].len;
    return NULL;
}

/* Room for one more entry, doubling the array up to APIKEY_MAX_KEYS. */
static int
apikey_grow(struct apikey_store *s)
{
    size_t cap = s->cap == 0 ? 16 : s->cap * 2;
    struct apikey_entry *keys;

    if (s->nkeys < s->cap)
        return AW_OK;
    if (s->nkeys == APIKEY_MAX_KEYS)
        return AW_TOOBIG;
    cap = MIN(cap, (size_t)APIKEY_MAX_KEYS);
    keys = realloc(s->keys, cap * sizeof(*keys));
    if (keys == NULL)
        return AW_NOMEM;
    s->keys = keys;
    s->cap = cap;
    return AW_OK;
}

/*
 * Take one line (without its '\n'): skip it when blank or a comment,
 * else append its key. Returns AW_OK, or an error with *why set.
 */
static int
apikey_line(struct apikey_store *s, struct slice line, unsigned lineno,
            const char **why)
{
    struct slice f[5];
    struct apikey_entry *e;
    size_t n;
    int rc;

    *why = apikey_line_bytes(line);
    if (*why != NULL)
        return AW_INVALID;
    n = apikey_fields(line, f, ARRAY_LEN(f));
    if (n == 0 || f[0].ptr[0] == '#')
        return AW_OK;
    if (n != ARRAY_LEN(f)) {
        *why = "expected 5 fields: id consumer hmac not_before expires";
        return AW_INVALID;
    }
    rc = apikey_grow(s);
    if (rc != AW_OK) {
        *why = rc == AW_TOOBIG ? "more than 1000000 keys" : "out of memory";
        return rc;
    }
    e = &s->keys[s->nkeys];
    memset(e, 0, sizeof(*e));
    e->line = lineno;
    *why = apikey_entry_parse(f, e);
    if (*why != NULL)
        return AW_INVALID;
    s->nkeys++;
    return AW_OK;
}

/*
 * Take every line of text in turn. The first problem ends the reading
 * and is reported as "name:LINE: why"; later lines are not looked at.
 */
static int
apikey_lines(struct apikey_store *s, const char *name, const char *text,
             size_t len, char *err, size_t errlen)
{
    unsigned lineno = 0;
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        const char *why = NULL;
        int rc;

        lineno++;
        rc = apikey_line(s, (struct slice){text + pos, end - pos}, lineno,
                         &why);
        if (rc != AW_OK)
            return apikey_fail(err, errlen, rc, "%s:%u: %s", name, lineno,
                               why);
        pos = end + 1;
    }
    return AW_OK;
}

/* ------------------------------------------------------------------ */
/* The id table                                                        */
/* ------------------------------------------------------------------ */

/* FNV-1a. Ids come from the operator's file, so no seed is needed. */
static size_t
apikey_hash(struct slice id)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < id.len; i++)
        h = (h ^ (unsigned char)id.ptr[i]) * 16777619u;
    return h;
}

/*
 * The slot holding id, or the empty slot where it would go. The table
 * is at most half full, so the probe ends.
 */
static size_t
apikey_slot(const struct apikey_store *s, struct slice id)
{
    size_t i = apikey_hash(id) & s->mask;

    while (s->slots[i] != 0) {
        const struct apikey_entry *e = &s->keys[s->slots[i] - 1];

        if (e->id_len == id.len && memcmp(e->id, id.ptr, id.len) == 0)
            return i;
        i = (i + 1) & s->mask;
    }
    return i;
}

/* The entry with this id, or NULL. Allocates nothing. */
static struct apikey_entry *
apikey_find(const struct apikey_store *s, struct slice id)
{
    size_t i = apikey_slot(s, id);

    return s->slots[i] == 0 ? NULL : &s->keys[s->slots[i] - 1];
}

/* Build the table over every entry; a repeated id is refused. */
static int
apikey_index(struct apikey_store *s, const char *name, char *err,
             size_t errlen)
{
    size_t cap = 16;

    while (cap < 2 * s->nkeys)
        cap *= 2;
    s->slots = calloc(cap, sizeof(*s->slots));
    if (s->slots == NULL)
        return apikey_fail(err, errlen, AW_NOMEM, "%s: out of memory", name);
    s->mask = cap - 1;
    for (size_t k = 0; k < s->nkeys; k++) {
        const struct apikey_entry *e = &s->keys[k];
        size_t i = apikey_slot(s, (struct slice){e->id, e->id_len});

        if (s->slots[i] != 0)
            return apikey_fail(err, errlen, AW_INVALID,
                               "%s:%u: duplicate key id (first on line %u)",
                               name, e->line, s->keys[s->slots[i] - 1].line);
        s->slots[i] = (uint32_t)(k + 1);
    }
    return AW_OK;
}

/*
 * Ids revoked through the admin API, kept apart from any store so they
 * survive reloads. Ids are at most 16 bytes; a zero length ends the
 * used part. Reads and writes take the lock; the set is small and a
 * lookup is a linear scan done only for keys that otherwise pass.
 */
static pthread_mutex_t runtime_lock = PTHREAD_MUTEX_INITIALIZER;
static char runtime_ids[APIKEY_RUNTIME_REVOKED_MAX][16];
static unsigned char runtime_lens[APIKEY_RUNTIME_REVOKED_MAX];
static size_t runtime_n;

/* Index of id in the runtime set, or runtime_n; the lock is held. */
static size_t
runtime_index(struct slice id)
{
    size_t i;

    for (i = 0; i < runtime_n; i++)
        if (runtime_lens[i] == id.len &&
            memcmp(runtime_ids[i], id.ptr, id.len) == 0)
            break;
    return i;
}

int
apikey_revoke_runtime(struct slice id)
{
    int rc = AW_OK;

    if (!apikey_id_valid(id))
        return AW_INVALID;
    pthread_mutex_lock(&runtime_lock);
    if (runtime_index(id) < runtime_n)
        goto out;
    if (runtime_n == APIKEY_RUNTIME_REVOKED_MAX) {
        rc = AW_TOOBIG;
        goto out;
    }
    memcpy(runtime_ids[runtime_n], id.ptr, id.len);
    runtime_lens[runtime_n++] = (unsigned char)id.len;
out:
    pthread_mutex_unlock(&runtime_lock);
    return rc;
}

/* True when id was revoked through apikey_revoke_runtime. */
static bool
apikey_revoked_runtime(struct slice id)
{
    pthread_mutex_lock(&runtime_lock);
    bool found = runtime_index(id) < runtime_n;
    pthread_mutex_unlock(&runtime_lock);
    return found;
}

/* Mark the revoked ids. An id that is not in the file is no error. */
static int
apikey_revoke(struct apikey_store *s, char **revoked, size_t n, char *err,
              size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        struct slice id = {revoked[i], strlen(revoked[i])};
        struct apikey_entry *e;

        if (!apikey_id_valid(id))
            return apikey_fail(err, errlen, AW_INVALID,
                               "revoked key id #%zu is not 8 to 16 "
                               "characters of a-z 0-9", i + 1);
        e = apikey_find(s, id);
        if (e != NULL)
            e->revoked = true;
    }
    return AW_OK;
}

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

/* Entries, then the id table, then revocations: each step needs the
   one before. */
static int
apikey_build(struct apikey_store *s, const char *name, const char *text,
             size_t len, char **revoked, size_t nrevoked, char *err,
             size_t errlen)
{
    int rc = apikey_lines(s, name, text, len, err, errlen);

    if (rc == AW_OK)
        rc = apikey_index(s, name, err, errlen);
    if (rc == AW_OK)
        rc = apikey_revoke(s, revoked, nrevoked, err, errlen);
    return rc;
}

/*
 * The common end of load and parse: s already holds its keyed HMAC.
 * Builds the rest from text and hands s to *out, or frees it.
 */
static int
apikey_finish(struct apikey_store *s, const char *name, const char *text,
              size_t len, char **revoked, size_t nrevoked,
              struct apikey_store **out, char *err, size_t errlen)
{
    int rc = apikey_build(s, name, text, len, revoked, nrevoked, err,
                          errlen);

    if (rc != AW_OK) {
        apikey_store_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

int
apikey_store_parse(const char *name, const char *text, size_t len,
                   const unsigned char *pepper, size_t pepper_len,
                   char **revoked, size_t nrevoked,
                   struct apikey_store **out, char *err, size_t errlen)
{
    struct apikey_store *s;
    int rc;

    *out = NULL;
    if (pepper_len < APIKEY_PEPPER_MIN || pepper_len > APIKEY_PEPPER_MAX)
        return apikey_fail(err, errlen, AW_INVALID,
                           "the pepper must be %d to %d bytes, not %zu",
                           APIKEY_PEPPER_MIN, APIKEY_PEPPER_MAX, pepper_len);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return apikey_fail(err, errlen, AW_NOMEM, "%s: out of memory", name);
    rc = apikey_mac_new(pepper, pepper_len, &s->mac);
    if (rc != AW_OK) {
        free(s);
        return apikey_fail(err, errlen, rc, "cannot key HMAC-SHA-256");
    }
    return apikey_finish(s, name, text, len, revoked, nrevoked, out, err,
                         errlen);
}

int
apikey_store_load(const char *file, const char *pepper_file,
                  char **revoked, size_t nrevoked,
                  struct apikey_store **out, char *err, size_t errlen)
{
    struct apikey_store *s = calloc(1, sizeof(*s));
    char *text = NULL;
    size_t len = 0;
    mode_t mode = 0;
    int rc;

    *out = NULL;
    if (s == NULL)
        return apikey_fail(err, errlen, AW_NOMEM, "%s: out of memory", file);
    rc = apikey_pepper_load(pepper_file, &s->mac, err, errlen);
    if (rc == AW_OK)
        rc = apikey_slurp(file, APIKEY_FILE_MAX, &text, &len, &mode, err,
                          errlen);
    if (rc != AW_OK) {
        apikey_store_free(s);
        free(text);
        return rc;
    }
    rc = apikey_finish(s, file, text, len, revoked, nrevoked, out, err,
                       errlen);
    free(text);
    return rc;
}

void
apikey_store_free(struct apikey_store *s)
{
    if (s == NULL)
        return;
    EVP_MAC_CTX_free(s->mac);
    free(s->slots);
    free(s->keys);
    free(s);
}

size_t
apikey_store_count(const struct apikey_store *s)
{
    return s != NULL ? s->nkeys : 0;
}

/* ------------------------------------------------------------------ */
/* Verification                                                        */
/* ------------------------------------------------------------------ */

/* Fill err and return rc: 401 for a refused key, 503 for our failure. */
static int
apikey_refuse(struct auth_error *err, int rc, const char *reason,
              const char *detail)
{
    err->status = rc == AW_INVALID ? 401 : 503;
    err->reason = reason;
    err->detail = detail;
    err->bearer_error = NULL;
    return rc;
}

/*
 * "auth.bad_api_key": for a key of the wrong shape, or with one detail
 * for both an unknown id and a wrong secret.
 */
static int
apikey_refuse_bad(struct auth_error *err, bool malformed)
{
    return apikey_refuse(err, AW_INVALID, "auth.bad_api_key",
                         malformed ? "not an API key of the form "
                                     "aw_<id>_<secret>"
                                   : "unknown API key or wrong secret");
}

/* The first 12 hex digits of SHA-256 of the key, NUL-terminated. */
static int
apikey_credential_id(struct slice key, char out[13])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(key.ptr, key.len, md, &n, EVP_sha256(), NULL) != 1) {
        ERR_clear_error();
        return AW_ERROR;
    }
    apikey_hex(md, 6, out);
    return AW_OK;
}

/* Fill p for a verified entry, with copies of its strings in a. */
static int
apikey_principal(const struct apikey_entry *e, struct slice key,
                 struct arena *a, struct principal *p)
{
    char *consumer = arena_dup(a, e->consumer, e->consumer_len);
    char *id = arena_dup(a, e->id, e->id_len);

    if (consumer == NULL || id == NULL)
        return AW_NOMEM;
    memset(p, 0, sizeof(*p));
    p->kind = AUTH_API_KEY;
    p->subject = (struct slice){consumer, e->consumer_len};
    p->consumer = p->subject;
    p->issuer = (struct slice){"", 0};
    p->key_id = (struct slice){id, e->id_len};
    p->expires = e->expires == APIKEY_NO_END ? 0 : e->expires;
    return apikey_credential_id(key, p->credential_id);
}

/*
 * Whether the secret matches entry e, which is NULL for an unknown id.
 * The HMAC is computed and compared in both cases, against an all-zero
 * decoy for an unknown id, so that the time taken tells nothing.
 */
static int
apikey_matches(const struct apikey_store *s, const struct apikey_entry *e,
               struct slice secret, bool *match)
{
    static const unsigned char decoy[APIKEY_MAC_LEN];
    unsigned char mac[APIKEY_MAC_LEN];
    int rc = apikey_mac(s->mac, secret, mac);
    int diff;

    *match = false;
    if (rc != AW_OK)
        return rc;
    diff = CRYPTO_memcmp(mac, e != NULL ? e->mac : decoy, sizeof(mac));
    *match = diff == 0 && e != NULL;
    OPENSSL_cleanse(mac, sizeof(mac));
    return AW_OK;
}

int
apikey_verify(const struct apikey_store *s, struct slice key, int64_t now,
              struct arena *a, struct principal *p, struct auth_error *err)
{
    struct apikey_parts k;
    const struct apikey_entry *e;
    bool match;
    int rc;

    if (!apikey_split(key, &k))
        return apikey_refuse_bad(err, true);
    if (s == NULL)
        return apikey_refuse_bad(err, false);
    e = apikey_find(s, k.id);
    rc = apikey_matches(s, e, k.secret, &match);
    if (rc != AW_OK)
        return apikey_refuse(err, rc, "auth.verify_error",
                             "HMAC-SHA-256 failed");
    if (!match)
        return apikey_refuse_bad(err, false);
    if (e->revoked || apikey_revoked_runtime(k.id))
        return apikey_refuse(err, AW_INVALID, "auth.key_revoked",
                             "the API key has been revoked");
    if (now < e->not_before)
        return apikey_refuse(err, AW_INVALID, "auth.key_not_yet_valid",
                             "the API key is not valid yet");
    /* "-" is kept as INT64_MAX, which must not expire at that second. */
    if (e->expires != APIKEY_NO_END && now >= e->expires)
        return apikey_refuse(err, AW_INVALID, "auth.key_expired",
                             "the API key has expired");
    rc = apikey_principal(e, key, a, p);
    if (rc == AW_NOMEM)
        return apikey_refuse(err, rc, "auth.no_memory", "request arena full");
    if (rc != AW_OK)
        return apikey_refuse(err, rc, "auth.verify_error", "SHA-256 failed");
    return AW_OK;
}

/* ------------------------------------------------------------------ */
/* apiward key new                                                     */
/* ------------------------------------------------------------------ */

static const char apikey_usage[] =
    "usage: apiward key new --consumer NAME --pepper-file FILE\n"
    "                       [--not-before DATE] [--expires DATE]\n"
    "\n"
    "Makes an API key for NAME and prints it once, with the line to\n"
    "append to the keys file (identity.api_keys.file). FILE is the\n"
    "pepper the gateway uses (identity.api_keys.pepper_file). DATE is\n"
    "2026-12-31 or 2026-12-31T12:00:00Z (UTC). A key is valid from\n"
    "--not-before (included) to --expires (excluded); to rotate, make a\n"
    "new key, hand it over, then let the old one expire or revoke it.\n";

struct apikey_new_opts {
    const char *consumer;
    const char *pepper_file;
    int64_t not_before;
    int64_t expires;
};

/* Unbiased random characters of a-z 0-9 for an id. */
static int
apikey_random_id(char *out, size_t n)
{
    size_t o = 0;

    while (o < n) {
        unsigned char r[32];

        if (RAND_bytes(r, sizeof(r)) != 1)
            return AW_ERROR;
        /* 252 = 7 * 36: bytes from 252 up would favour some letters. */
        for (size_t i = 0; i < sizeof(r) && o < n; i++) {
            if (r[i] < 252)
                out[o++] = apikey_id_alphabet[r[i] % 36];
        }
    }
    out[n] = '\0';
    return AW_OK;
}

/* Unpadded base64url of in[0..n) into out, NUL-terminated. */
static void
apikey_b64url(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        size_t k = MIN(n - i, 3);
        unsigned long acc = (unsigned long)in[i] << 16;

        if (k > 1)
            acc |= (unsigned long)in[i + 1] << 8;
        if (k > 2)
            acc |= in[i + 2];
        for (size_t j = 0; j <= k; j++)
            out[o++] = apikey_b64_alphabet[(acc >> (18 - 6 * j)) & 63];
    }
    out[o] = '\0';
}

/* A time bound as the keys file spells it: "-" or RFC 3339 UTC. */
static void
apikey_time_format(int64_t t, bool bounded, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!bounded || gmtime_r(&tt, &tm) == NULL ||
        strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 21, "-");
}

/* The value of option name at argv[*i] ("--x V" or "--x=V"), or NULL. */
static const char *
apikey_opt(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);

    if (strcmp(argv[*i], name) == 0) {
        if (*i + 1 >= argc)
            return NULL;
        *i += 1;
        return argv[*i];
    }
    if (strncmp(argv[*i], name, len) == 0 && argv[*i][len] == '=')
        return argv[*i] + len + 1;
    return NULL;
}

/* A date option into *t; false (with a message) when malformed. */
static bool
apikey_opt_date(const char *name, const char *v, int64_t *t)
{
    if (apikey_time_parse((struct slice){v, strlen(v)}, true, t))
        return true;
    fprintf(stderr, "apiward key: %s wants 2026-12-31 or "
                    "2026-12-31T00:00:00Z (UTC)\n", name);
    return false;
}

/* Take one option at argv[*i]; false (with a message) on a bad one. */
static bool
apikey_opt_one(int argc, char **argv, int *i, struct apikey_new_opts *o)
{
    const char *v;

    if ((v = apikey_opt(argc, argv, i, "--consumer")) != NULL) {
        o->consumer = v;
        return true;
    }
    if ((v = apikey_opt(argc, argv, i, "--pepper-file")) != NULL) {
        o->pepper_file = v;
        return true;
    }
    if ((v = apikey_opt(argc, argv, i, "--not-before")) != NULL)
        return apikey_opt_date("--not-before", v, &o->not_before);
    if ((v = apikey_opt(argc, argv, i, "--expires")) != NULL)
        return apikey_opt_date("--expires", v, &o->expires);
    fprintf(stderr, "apiward key new: unknown option or missing value "
                    "at argument %d\n", *i + 1);
    return false;
}

/*
 * Read and check the options of `key new` (argv after "new"). Returns
 * false, with a message on stderr, on any problem.
 */
static bool
apikey_new_opts(int argc, char **argv, struct apikey_new_opts *o)
{
    *o = (struct apikey_new_opts){NULL, NULL, APIKEY_NO_START,
                                  APIKEY_NO_END};
    for (int i = 0; i < argc; i++) {
        if (!apikey_opt_one(argc, argv, &i, o))
            return false;
    }
    if (o->consumer == NULL || o->pepper_file == NULL) {
        fprintf(stderr, "apiward key new: --consumer and --pepper-file "
                        "are required\n");
        return false;
    }
    if (!apikey_consumer_valid((struct slice){o->consumer,
                                              strlen(o->consumer)})) {
        fprintf(stderr, "apiward key new: the consumer must be 1 to 64 "
                        "characters of A-Z a-z 0-9 _ . -\n");
        return false;
    }
    if (o->not_before >= o->expires) {
        fprintf(stderr, "apiward key new: --not-before must be earlier "
                        "than --expires\n");
        return false;
    }
    if (o->expires != APIKEY_NO_END &&
        o->expires <= (int64_t)(clock_wall_ms() / 1000)) {
        fprintf(stderr, "apiward key new: --expires is in the past\n");
        return false;
    }
    return true;
}

/* The secret parts of a new key, wiped once printed. */
struct apikey_fresh {
    char id[APIKEY_ID_NEW + 1];
    unsigned char raw[APIKEY_SECRET_BYTES];
    char secret[APIKEY_SECRET_CHARS + 1];
    unsigned char mac[APIKEY_MAC_LEN];
    char hex[2 * APIKEY_MAC_LEN + 1];
};

/* Draw an id and a secret and compute the HMAC of the secret. */
static int
apikey_fresh_make(const EVP_MAC_CTX *tmpl, struct apikey_fresh *k)
{
    int rc = apikey_random_id(k->id, APIKEY_ID_NEW);

    if (rc != AW_OK || RAND_bytes(k->raw, sizeof(k->raw)) != 1)
        return AW_ERROR;
    apikey_b64url(k->raw, sizeof(k->raw), k->secret);
    rc = apikey_mac(tmpl, (struct slice){k->secret, APIKEY_SECRET_CHARS},
                    k->mac);
    if (rc != AW_OK)
        return rc;
    apikey_hex(k->mac, sizeof(k->mac), k->hex);
    return AW_OK;
}

/* Print the key and its line; false when stdout failed. */
static bool
apikey_fresh_print(const struct apikey_new_opts *o,
                   const struct apikey_fresh *k)
{
    char nb[21], exp[21];

    apikey_time_format(o->not_before, o->not_before != APIKEY_NO_START, nb);
    apikey_time_format(o->expires, o->expires != APIKEY_NO_END, exp);
    printf("API key for %s (shown this once; apiward keeps no copy):\n"
           "%s_%s_%s\n"
           "\n"
           "Line to append to the keys file:\n"
           "%s %s %s %s %s\n",
           o->consumer, APIKEY_PREFIX, k->id, k->secret, k->id, o->consumer,
           k->hex, nb, exp);
    return fflush(stdout) == 0 && !ferror(stdout);
}

/* `key new` once the options are read: 0, or 1 on failure. */
static int
apikey_new(const struct apikey_new_opts *o)
{
    struct apikey_fresh k;
    EVP_MAC_CTX *tmpl = NULL;
    char err[512];
    int status = 1;

    if (apikey_pepper_load(o->pepper_file, &tmpl, err, sizeof(err)) !=
        AW_OK) {
        fprintf(stderr, "apiward key new: %s\n", err);
        return 1;
    }
    if (apikey_fresh_make(tmpl, &k) != AW_OK)
        fprintf(stderr, "apiward key new: no random bytes or no HMAC\n");
    else if (!apikey_fresh_print(o, &k))
        fprintf(stderr, "apiward key new: cannot write to stdout\n");
    else
        status = 0;
    OPENSSL_cleanse(&k, sizeof(k));
    EVP_MAC_CTX_free(tmpl);
    return status;
}

int
apikey_cmd(int argc, char **argv)
{
    struct apikey_new_opts o;

    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "--help") == 0)) {
        fputs(apikey_usage, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "new") != 0) {
        fputs(apikey_usage, stderr);
        return 2;
    }
    if (!apikey_new_opts(argc - 2, argv + 2, &o)) {
        fputs(apikey_usage, stderr);
        return 2;
    }
    return apikey_new(&o);
}
