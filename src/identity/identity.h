/*
 * identity: who is calling. Tokens (JWS/JWT), the keys that verify them,
 * and, in later sections, issuers, API keys, introspection and the
 * principal that the authentication stage hands to the rest of the
 * pipeline.
 *
 * Each part of this header is one delimited section.
 */
#ifndef APIWARD_IDENTITY_H
#define APIWARD_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "json/json.h"

/* ==================================================================== */
/* JOSE: compact JWS verification, JWK and JWK Set import               */
/* ==================================================================== */

/*
 * The contract of this section.
 *
 * 1. Tokens. Only the compact serialization: exactly three base64url
 *    segments (alphabet A-Z a-z 0-9 - _) joined by two dots, without
 *    padding, whitespace or any other byte, and with every unused bit of
 *    a final partial group zero, so that one token has one spelling. A
 *    token longer than the caller's bound is refused before a single
 *    byte is decoded. The header, and for a JWT the payload, are parsed
 *    with the strict JSON parser (json/json.h) and must be objects:
 *    duplicate members, invalid UTF-8 and non-objects are refused. The
 *    signature covers the ASCII bytes "header.payload" as they appear in
 *    the token.
 *
 * 2. Algorithms. RS256/384/512 (RSASSA-PKCS1-v1_5), PS256/384/512
 *    (RSASSA-PSS, MGF1 with the same hash, salt as long as the hash),
 *    ES256/384/512 (ECDSA whose signature is the raw r||s of exactly
 *    64, 96 or 132 bytes, never DER; r and s must lie in [1, n-1]),
 *    EdDSA (Ed25519 or Ed448, whichever the key's "crv" says) and
 *    HS256/384/512 (HMAC, compared in constant time). "none", any other
 *    name and any other spelling are refused.
 *
 * 3. The key decides. A token's "alg" is only a claim: it is accepted
 *    when it is one the key allows, and the key never changes its kind
 *    to follow the token. RSA keys serve RS* and PS*; EC P-256 serves
 *    ES256 only, P-384 ES384, P-521 ES512; OKP Ed25519 and Ed448 serve
 *    EdDSA; "oct" keys serve HS* and nothing else, so a public key is
 *    never an HMAC secret. A key with "alg" serves that algorithm only.
 *    A key whose "use" is not "sig", or whose "key_ops" lacks "verify",
 *    is not loaded. RSA moduli under 2048 bits, HMAC secrets shorter than
 *    the hash output (RFC 7518 section 3.2) and the other weak keys
 *    listed at jwk_import are refused at import. A header with "crit"
 *    is refused whatever it lists (no extension is understood), and so
 *    is "b64" with any value but true. The header members "jku", "x5u",
 *    "jwk" and "x5c" are never fetched, parsed or trusted: keys come
 *    from configuration only. "kid", when present, must be a string.
 *
 * 4. Keys. JWKs become EVP_PKEYs through EVP_PKEY_fromdata at import,
 *    once; EC points are checked to lie on their curve. In a JWK Set a
 *    key that cannot be loaded is skipped and the reason kept in a note,
 *    so one bad key does not take the set down. A set is immutable once
 *    built and reference-counted with atomic operations: workers verify
 *    against it while a refresh builds its successor.
 *
 * 5. Reasons. Every refusal carries a stable reason code, the same in
 *    the response, the event, the metric and the log:
 *      auth.malformed_token   not three clean segments, bad base64url,
 *                             header or payload not a JSON object,
 *                             "alg" missing or not a string, "kid" not
 *                             a string
 *      auth.token_too_large   longer than the caller's bound
 *      auth.alg_not_allowed   "none" or an algorithm not listed above
 *      auth.crit_unsupported  "crit" present, or "b64" not true
 *      auth.bad_signature     the signature does not verify (this
 *                             includes a signature of the wrong length,
 *                             such as a DER-encoded ECDSA signature)
 *      auth.unknown_key       no key in the set can verify this token
 *      auth.ambiguous_key     the token's kid names two or more keys
 *                             that could all verify it
 *      auth.key_alg_mismatch  the key does not serve the token's alg
 *      auth.verify_error      the crypto library failed (not the token)
 *      auth.no_memory         an allocation failed
 *    and for keys:
 *      jwk.malformed          not an object, a member of the wrong type,
 *                             bad base64url
 *      jwk.unsupported_kty    kty other than RSA, EC, OKP, oct
 *      jwk.unsupported_crv    a curve other than P-256/384/521,
 *                             Ed25519, Ed448
 *      jwk.unsupported_alg    "alg" names no JWS algorithm listed above
 *      jwk.alg_mismatch       "alg" does not fit the key's type or curve
 *      jwk.not_for_signing    "use" not "sig", or "key_ops" without
 *                             "verify"
 *      jwk.private_key        an RSA, EC or OKP key with private members
 *      jwk.weak_key           too short, bad exponent, ROCA fingerprint
 *      jwk.bad_key            a value that is not a valid key (point off
 *                             the curve, wrong coordinate length, ...)
 *      jwk.mixed_symmetry     a secret key in a set that also holds
 *                             public keys (the secret is dropped)
 *      jwk.duplicate_kid      a kid already used in the set (the key is
 *                             kept; see jwks_verify)
 *      jwks.malformed         the set is not {"keys": [objects...]}
 *      jwks.too_many_keys     more than JWKS_MAX_KEYS entries
 *      jwk.no_memory          an allocation failed
 *    Tokens and key material are never logged by this code, and details
 *    are fixed strings that never quote them.
 *
 * 6. Threads. A struct jwk and a struct jwks are read-only after import
 *    and may be used by any number of threads at once; every
 *    verification creates its own OpenSSL context.
 */

/* A token longer than this cannot even be looked at; the configured
   bound (default 8 KiB) is usually much lower. */
#define JOSE_MAX_TOKEN ((size_t)1 << 20)

/* Longest "kid" accepted in a JWK; longer kids are jwk.malformed. */
#define JWK_MAX_KID 256

/* Entries a JWK Set may have; beyond, the whole set is refused. */
#define JWKS_MAX_KEYS 64

/* Keys tried for a token without "kid"; see jwks_verify. */
#define JWKS_MAX_TRIES 4

/* The algorithms of RFC 7518 that are verified. Order is not stable. */
enum jose_alg {
    JOSE_ALG_UNKNOWN = 0, /* anything else, "none" included */
    JOSE_RS256,
    JOSE_RS384,
    JOSE_RS512,
    JOSE_PS256,
    JOSE_PS384,
    JOSE_PS512,
    JOSE_ES256,
    JOSE_ES384,
    JOSE_ES512,
    JOSE_EDDSA,
    JOSE_HS256,
    JOSE_HS384,
    JOSE_HS512,
    JOSE_ALG_COUNT
};

/* Why a token or a key was refused. Both strings are static. */
struct jose_error {
    const char *reason; /* a code listed above; NULL after success */
    const char *detail; /* fixed human-readable precision, or "" */
};

/* The algorithm named exactly (case-sensitive) by s, or UNKNOWN. */
enum jose_alg jose_alg_from_name(struct slice s);

/* The registered name of alg ("RS256", ...); "unknown" for UNKNOWN. */
const char *jose_alg_name(enum jose_alg alg);

/* Flags of jose_parse. */
enum {
    /*
     * The payload is opaque bytes (a general JWS), not a JWT claims set:
     * it is decoded but not parsed, and tok->payload stays NULL.
     */
    JOSE_OPAQUE_PAYLOAD = 1u << 0,
};

/*
 * A parsed, not yet verified, token. Every pointer is either into the
 * caller's token buffer (signing_input) or into the arena given to
 * jose_parse; the struct is valid as long as both are.
 */
struct jose_token {
    enum jose_alg alg;              /* never UNKNOWN after AW_OK */
    bool has_kid;                   /* the header had "kid" */
    struct slice kid;               /* decoded "kid" (may hold any
                                       UTF-8), SLICE_NULL if absent */
    const struct json_value *header;  /* the header object */
    const struct json_value *payload; /* the claims object, or NULL with
                                         JOSE_OPAQUE_PAYLOAD */
    struct slice payload_bytes;     /* decoded payload, in the arena */
    struct slice signing_input;     /* "header.payload", borrowed from
                                       the token buffer */
    struct slice sig;               /* decoded signature, in the arena */
};

/*
 * Parse a compact JWS token[0..len) into tok, checking everything that
 * can be checked without a key (rules 1 to 3 above). max_len is the
 * caller's bound (at most JOSE_MAX_TOKEN); flags is 0 for a JWT or
 * JOSE_OPAQUE_PAYLOAD. Decoded parts and JSON trees are allocated from
 * a, which needs about twice len plus the JSON trees.
 *
 * Returns AW_OK; AW_TOOBIG (auth.token_too_large) when len > max_len;
 * AW_INVALID with err set (auth.malformed_token, auth.alg_not_allowed,
 * auth.crit_unsupported); AW_NOMEM (auth.no_memory) when the arena is
 * exhausted. On failure tok is zeroed.
 */
int jose_parse(const char *token, size_t len, size_t max_len,
               unsigned flags, struct arena *a, struct jose_token *tok,
               struct jose_error *err);

/* An imported key. Opaque and immutable; see jwk_import. */
struct jwk;

/*
 * Verify tok's signature with key (rules 2 and 3). Returns AW_OK when
 * it verifies; AW_INVALID with auth.key_alg_mismatch when key does not
 * serve tok->alg, auth.bad_signature when the signature is wrong;
 * AW_NOMEM (auth.no_memory); AW_ERROR (auth.verify_error) when OpenSSL
 * fails for a reason that is not the token's. Any result but AW_OK
 * means the token must not be trusted.
 */
int jose_verify(const struct jose_token *tok, const struct jwk *key,
                struct jose_error *err);

/*
 * The primitive under jose_verify: verify sig over msg with key for
 * alg, with the same checks and results. Tests drive third-party
 * vectors through it, so that they exercise the code tokens use.
 */
int jose_verify_bytes(const struct jwk *key, enum jose_alg alg,
                      const void *msg, size_t msg_len, const void *sig,
                      size_t sig_len, struct jose_error *err);

/*
 * Import one JWK (a parsed JSON object, RFC 7517/7518) as a verification
 * key. Accepted: RSA {n, e}, EC {crv P-256/P-384/P-521, x, y}, OKP {crv
 * Ed25519/Ed448, x}, oct {k}; optional "kid" (a string of at most
 * JWK_MAX_KID bytes), "alg" (one of enum jose_alg, fitting the key),
 * "use" (must be "sig") and "key_ops" (must include "verify", no
 * repeats). Members this code does not use ("x5c", "x5t", "ext", ...)
 * are ignored and certificates are not checked. Refused as jwk.weak_key:
 * RSA moduli under 2048 bits, public exponents that are even, under 3
 * or over 256 bits, moduli with the ROCA fingerprint (keys from the
 * flawed Infineon generator, CVE-2017-15361), oct secrets shorter than
 * the output of the hash of their "alg" (32 bytes when there is none).
 * RSA moduli over 8192 bits and oct secrets over 1024 bytes are
 * jwk.bad_key, which bounds the cost of one verification. Leading zero
 * bytes in n and e are tolerated; EC coordinates must have exactly the
 * field's length.
 *
 * Returns AW_OK with *out set (free with jwk_free); AW_INVALID with err
 * naming the jwk.* reason; AW_NOMEM (jwk.no_memory). *out is NULL on
 * failure.
 */
int jwk_import(const struct json_value *v, struct jwk **out,
               struct jose_error *err);

/* Free a key imported alone (not one owned by a set); accepts NULL.
   Secret material is wiped before it is released. */
void jwk_free(struct jwk *key);

/* The key's "kid", or SLICE_NULL when it had none. Borrowed. */
struct slice jwk_kid(const struct jwk *key);

/* True when key may verify tokens of alg (rule 3). */
bool jwk_fits(const struct jwk *key, enum jose_alg alg);

/* True for "oct" keys, whose material is a secret. */
bool jwk_is_secret(const struct jwk *key);

/* An immutable, reference-counted set of keys. */
struct jwks;

/*
 * Something worth telling the operator about one entry of a set: why
 * it was skipped, or a remark on a key that was kept.
 */
struct jwks_note {
    size_t index;       /* position in the document's "keys" array */
    char kid[72];       /* the entry's kid, escaped with log_escape and
                           cut; "" when it had none */
    const char *reason; /* a jwk.* code */
    const char *detail; /* fixed text */
    bool skipped;       /* true: the key is not in the set */
};

/* Flags of jwks_parse. */
enum {
    /*
     * The document comes from a place others can read (a JWKS URI):
     * "oct" keys in it are skipped as jwk.mixed_symmetry, since a
     * published secret is no secret.
     */
    JWKS_PUBLIC_ONLY = 1u << 0,
};

/*
 * Build a set from a JWK Set document buf[0..len) ({"keys": [...]},
 * RFC 7517 section 5), or from an already parsed one with
 * jwks_from_json. Entries that fail jwk_import are skipped with a note.
 * When a set holds both secret (oct) and public keys, the secrets are
 * skipped (jwk.mixed_symmetry): one set serves one kind of issuer. A
 * kid used twice is kept and noted (jwk.duplicate_kid). A set with no
 * usable key is still a set: it verifies nothing, and jwks_count tells
 * the caller, who may prefer to keep the previous one.
 *
 * Returns AW_OK with *out holding one reference; AW_INVALID
 * (jwks.malformed, with the JSON reason as detail); AW_TOOBIG
 * (jwks.too_many_keys, or a JSON bound); AW_NOMEM (jwk.no_memory).
 */
int jwks_parse(const char *buf, size_t len, unsigned flags,
               struct jwks **out, struct jose_error *err);
int jwks_from_json(const struct json_value *doc, unsigned flags,
                   struct jwks **out, struct jose_error *err);

/* Take one more reference; returns set. Any thread. */
struct jwks *jwks_ref(struct jwks *set);

/* Drop a reference; the last one frees the set. Accepts NULL. */
void jwks_unref(struct jwks *set);

/* Number of keys in the set. */
size_t jwks_count(const struct jwks *set);

/* The notes gathered while building the set; *n receives their count. */
const struct jwks_note *jwks_notes(const struct jwks *set, size_t *n);

/*
 * Candidate keys for a token: with a kid, the keys with that kid that
 * fit alg; without, the keys that fit alg, in document order. Writes at
 * most max pointers (borrowed from the set) to out and returns how many
 * keys qualified in total, which may exceed max.
 */
size_t jwks_find(const struct jwks *set, const struct slice *kid,
                 enum jose_alg alg, const struct jwk **out, size_t max);

/*
 * Verify tok against a set. With a kid, exactly one key of the set must
 * have that kid and fit tok->alg: none is auth.unknown_key (or
 * auth.key_alg_mismatch when the kid exists but its key does not serve
 * the alg), two or more is auth.ambiguous_key, since a verifier that
 * tries each would let either key stand for the other. Without a kid,
 * the first JWKS_MAX_TRIES keys that fit the alg are tried in order;
 * a key beyond them is never tried, which bounds the work one token can
 * cause. *used (may be NULL) receives the key that verified.
 *
 * Returns AW_OK or the results of jose_verify, with auth.unknown_key and
 * auth.ambiguous_key as AW_INVALID.
 */
int jwks_verify(const struct jwks *set, const struct jose_token *tok,
                const struct jwk **used, struct jose_error *err);

/* ==================================================================== */
/* end of JOSE                                                          */
/* ==================================================================== */

/* ==================================================================== */
/* KEY STORE: where an issuer's keys come from, kept fresh               */
/* ==================================================================== */

/*
 * The contract of this section.
 *
 * 1. Sources. A source is a JWK Set file, a JWK Set URL, or an OpenID
 *    Connect discovery document whose "jwks_uri" names the set. Sources
 *    are process-wide, found by (kind, location) and reference-counted:
 *    every configuration snapshot that names one holds a reference, so
 *    a reload that still names a source keeps its keys and its refresh
 *    schedule. A source is destroyed when its last reference goes; a
 *    reload takes its new references before it drops the old ones.
 *
 * 2. Files are read and parsed when keystore_source is called, on the
 *    caller's thread, and again on every later call for the same path
 *    (that is, on every reload). A read that fails keeps the set read
 *    before and is reported to the caller.
 *
 * 3. Remote sources are fetched by one thread, the only code that talks
 *    to libcurl: a worker never waits on the network. http and https
 *    only; at most 3 redirects, to https or to the scheme of the URL;
 *    no proxy (the proxy environment variables are ignored); a bound of
 *    timeout_ms on each request (a discovery source makes two: the
 *    document, then the set); bodies over 1 MiB refused; User-Agent
 *    "apiward/<version>". A plain http URL to a host other than loopback
 *    is accepted, with a warning: anyone on the path can replace the
 *    keys.
 *
 * 4. Refresh. After a good fetch the next one is due after the
 *    response's Cache-Control max-age clamped to [refresh_min,
 *    refresh_max]; refresh_max when there is no max-age, refresh_min
 *    with no-cache or no-store. A fetch fails on a transfer error, a
 *    timeout, a status other than 200, an oversized body, a document
 *    that is not a JWK Set, or a set without one usable key; the set in
 *    use is then kept and the fetch retried after max(1 s,
 *    refresh_min / 8), doubling up to refresh_min. A failure is logged
 *    once per outage (with the URL and the reason), and the recovery
 *    once; key material never is. Published sets are public: "oct"
 *    (secret) keys in them are skipped.
 *
 * 5. Unknown kids. keysource_refetch asks for an early fetch; at most
 *    one per unknown_kid interval is started, and never a second request
 *    for a source while one is in flight.
 *
 * 6. Threads. keysource_get, keysource_refetch, keysource_pending,
 *    keysource_stats, keystore_generation and keystore_ready may be
 *    called from any thread; keystore_source, keysource_unref,
 *    keystore_start and keystore_stop from the thread that loads
 *    configurations.
 *
 * Reasons of failed reads and fetches (keysource_stats):
 *   jwks.read_failed      a file could not be read
 *   jwks.connect_failed   no connection to the host (DNS, refused, ...)
 *   jwks.timeout          no complete answer within timeout_ms
 *   jwks.fetch_failed     another transfer error (TLS, refused
 *                         redirect, too many redirects, ...)
 *   jwks.http_status      an answer other than 200
 *   jwks.too_large        a body or file over 1 MiB
 *   jwks.malformed        not a JWK Set (from jwks_parse)
 *   jwks.too_many_keys    more than JWKS_MAX_KEYS entries
 *   jwks.no_usable_key    a set in which no key could be loaded
 *   jwks.bad_discovery    a discovery document that is not an object
 *                         with a usable "jwks_uri"
 *   jwks.issuer_mismatch  a discovery document whose "issuer" is not
 *                         the expected one
 *   jwks.no_memory        an allocation failed
 */

/* config.h defines enum config_keys_kind; it does not include this
   header, so the include cannot loop. */
#include "config/config.h"

/* Largest JWK Set file or response body, and discovery document. */
#define KEYSTORE_MAX_BODY ((size_t)1 << 20)

/* A source; opaque. */
struct keysource;

/*
 * How a remote source is refreshed. A reload that names an existing
 * source replaces its options (the last caller wins when two issuers
 * share one source); the fetch already scheduled keeps its time.
 */
struct keysource_opts {
    uint64_t refresh_min_ms;  /* floor on max-age, and the longest retry
                                 delay; raised to 1 s when lower */
    uint64_t refresh_max_ms;  /* ceiling on max-age, and the period when
                                 there is none; raised to refresh_min */
    uint64_t unknown_kid_ms;  /* at most one refetch per interval;
                                 0: no bound but one in flight */
    uint64_t timeout_ms;      /* one request; 0 means 5 s */
    const char *issuer;       /* discovery sources: the "issuer" member
                                 the document must hold (exact bytes);
                                 NULL: not checked. Copied. */
};

/*
 * Find or create the source for (kind, location) and take a reference.
 * A file source is read and parsed now; a remote source is checked (an
 * http or https URL with a host) and fetched later by the fetch thread
 * (right away when it is running). o is copied.
 *
 * Returns AW_OK with *out set; AW_INVALID with a message in err (an
 * unreadable file, a file without a usable key, a bad URL), in which
 * case no reference is taken and a file source that existed keeps its
 * previous set; AW_NOMEM. *out is NULL on failure.
 */
int keystore_source(enum config_keys_kind kind, const char *location,
                    const struct keysource_opts *o, struct keysource **out,
                    char *err, size_t errlen);

/* Drop a reference taken by keystore_source; accepts NULL. */
void keysource_unref(struct keysource *s);

/*
 * The current key set with a reference (release it with jwks_unref), or
 * NULL when the source has never had a usable set. Lock-free.
 */
struct jwks *keysource_get(struct keysource *s);

/*
 * A token names a kid that the current set lacks: ask for a refetch.
 * Returns AW_AGAIN when a fetch of this source is now in flight, new or
 * already running (wait for keystore_generation() to change); AW_DECLINED
 * when the last refetch started less than unknown_kid ago, when the
 * source is a file, or when the fetch thread is not running.
 */
int keysource_refetch(struct keysource *s);

/* True until the source's first fetch ends; always false for files. */
bool keysource_pending(const struct keysource *s);

/* What a source has been doing, for metrics and the admin API. */
struct keysource_stats {
    uint64_t fetches;          /* fetches (file reads) ended */
    uint64_t failures;         /* of which failed */
    size_t nkeys;              /* keys in the current set */
    int64_t age_s;             /* seconds since the current set was last
                                  fetched or read successfully; -1 when
                                  there has been no success */
    bool failing;              /* the last fetch or read failed */
    const char *last_reason;   /* reason of the most recent failure (a
                                  jwks.* code above), NULL if none */
    char last_detail[128];     /* its precision, e.g. "HTTP status 500" */
    uint64_t refresh_ms;       /* delay chosen after the last fetch: the
                                  clamped max-age, or the backoff */
};

/* Fill st with a consistent picture of s. */
void keysource_stats(const struct keysource *s, struct keysource_stats *st);

/* Increases whenever any fetch ends, successfully or not. */
uint64_t keystore_generation(void);

/*
 * Start the fetch thread and wait up to wait_ms until every remote
 * source has a key set (readiness). on_change(arg), may be NULL, is
 * called from the fetch thread after every fetch ends (the proxy wakes
 * its workers). Returns AW_OK when ready; AW_AGAIN when wait_ms passed
 * first (the thread goes on fetching, see keystore_ready); AW_ERROR
 * when the thread or libcurl could not start, or it already runs.
 */
int keystore_start(uint64_t wait_ms, void (*on_change)(void *), void *arg);

/*
 * Stop the fetch thread: abort the requests in flight, join the thread,
 * free sources without references and libcurl's state. Sources still
 * referenced keep their sets; their last keysource_unref frees them.
 * Harmless when the thread is not running.
 */
void keystore_stop(void);

/* True when every remote source has a key set. */
bool keystore_ready(void);

/* ==================================================================== */
/* end of KEY STORE                                                     */
/* ==================================================================== */

/* ==================================================================== */
/* API KEYS (apikey helper)                                             */
/* ==================================================================== */

/*
 * The contract of this section.
 *
 * 1. A key is "aw_<id>_<secret>": the constant prefix APIKEY_PREFIX, an
 *    id of 8 to 16 characters of a-z 0-9, and a secret of 32 random
 *    bytes in unpadded base64url (43 characters, the last one with its
 *    two unused bits zero), about 256 bits of entropy. The id is not
 *    secret: it names the key in logs, events and the keys file. A
 *    presented key must have exactly this shape; it is never logged.
 *
 * 2. The gateway stores no secret. The keys file holds, one key a line,
 *      <id> <consumer> <hmac> <not_before|-> <expires|->
 *    separated by spaces or tabs, where hmac is the lowercase hex of
 *    HMAC-SHA-256(pepper, the 43 characters of the secret) and times are
 *    RFC 3339 UTC with seconds ("2026-12-31T00:00:00Z") or "-" for no
 *    bound. Lines that are blank or whose first visible byte is '#' are
 *    ignored. Consumers are 1 to 64 characters of A-Z a-z 0-9 _ . -.
 *    The pepper is a separate file of at least APIKEY_PEPPER_MIN bytes,
 *    read raw with one trailing newline removed, so that a stolen keys
 *    file alone does not let anyone test guesses.
 *
 * 3. A key is valid from not_before (included) to expires (excluded).
 *    Rotation is two keys for the same consumer whose periods overlap.
 *
 * 4. Reasons, all with status 401:
 *      auth.bad_api_key        malformed, unknown id or wrong secret
 *                              (the last two are indistinguishable, in
 *                              the detail and in the time taken; a
 *                              malformed key has its own detail)
 *      auth.key_revoked        the id is on the configured revocation
 *                              list
 *      auth.key_expired        now >= expires
 *      auth.key_not_yet_valid  now < not_before
 *    Revocation and validity are only told to a caller who proved the
 *    secret; anyone else gets auth.bad_api_key.
 */

/* The constant first part of every key, before the first '_'. */
#define APIKEY_PREFIX "aw"

/* Bounds of the id part, and the length `apiward key new` chooses. */
#define APIKEY_ID_MIN 8
#define APIKEY_ID_MAX 16
#define APIKEY_ID_NEW 12

/* Random bytes in a secret, and their base64url length. */
#define APIKEY_SECRET_BYTES 32
#define APIKEY_SECRET_CHARS 43

/* The longest well-formed key: "aw_" + 16 + "_" + 43. */
#define APIKEY_MAX_LEN (sizeof(APIKEY_PREFIX) + APIKEY_ID_MAX + 1 + \
                        APIKEY_SECRET_CHARS)

/* Bounds of a consumer name, a pepper and a keys file. */
#define APIKEY_CONSUMER_MAX 64
#define APIKEY_PEPPER_MIN 32
#define APIKEY_PEPPER_MAX 4096
#define APIKEY_MAX_KEYS 1000000
#define APIKEY_LINE_MAX 512

struct principal;
struct auth_error;

/* The keys of one configuration snapshot; immutable once loaded. */
struct apikey_store;

/*
 * Read the keys file and the pepper file and build a store, marking the
 * nrevoked ids of revoked (each must have the shape of an id; an id
 * absent from the file is allowed). A pepper file that group or others
 * may read or write gets a log_warn, not a refusal.
 *
 * Returns AW_OK with *out set (free with apikey_store_free); AW_INVALID
 * or AW_TOOBIG with the first problem in err as "FILE:LINE: text" (or
 * "FILE: text" for the file as a whole), AW_IO when a file cannot be
 * read, AW_NOMEM. *out is NULL on failure. Messages never quote the
 * pepper. Called on every (re)load by the config loader.
 */
int apikey_store_load(const char *file, const char *pepper_file,
                      char **revoked, size_t nrevoked,
                      struct apikey_store **out, char *err, size_t errlen);

/* Most ids revoked at runtime through the admin API. */
#define APIKEY_RUNTIME_REVOKED_MAX 1024

/*
 * Revoke the key id at runtime, process-wide: apikey_verify refuses it
 * with auth.key_revoked from the next call on, across reloads, until the
 * process ends. The keys file's revocation list is the persistent place;
 * this set lives in memory only. Thread-safe (a short lock). Returns
 * AW_OK (also when the id was revoked already), AW_INVALID when id does
 * not have the shape of a key id, AW_TOOBIG when the set is full.
 */
int apikey_revoke_runtime(struct slice id);

/* Free a store; accepts NULL. */
void apikey_store_free(struct apikey_store *s);

/* Number of keys in the store (revoked ones included). */
size_t apikey_store_count(const struct apikey_store *s);

/*
 * Verify a presented key (rules 1, 3 and 4) at wall-clock time now
 * (unix seconds). The store is only read, so any number of threads may
 * verify against it at once; the lookup allocates nothing.
 *
 * Returns AW_OK with p filled: kind AUTH_API_KEY, subject and consumer
 * the key's consumer, issuer "", key_id the id (these slices are copied
 * into a), expires the key's expiry or 0, credential_id the first 12
 * hex digits of SHA-256 of the key. AW_INVALID with err (status 401,
 * one of the reasons above). AW_NOMEM (503, auth.no_memory) when a is
 * exhausted, AW_ERROR (503, auth.verify_error) when OpenSSL fails. The
 * time taken does not depend on the secret nor on whether the id
 * exists.
 */
int apikey_verify(const struct apikey_store *s, struct slice key,
                  int64_t now, struct arena *a, struct principal *p,
                  struct auth_error *err);

/*
 * `apiward key new --consumer NAME [--not-before DATE] [--expires DATE]
 *  --pepper-file F` with argv[0] "key". DATE is RFC 3339 UTC as in the
 * keys file, or a day "YYYY-MM-DD" meaning its midnight UTC. Prints the
 * key, once, and the keys-file line on stdout; problems go to stderr,
 * which never receives anything secret. Returns the process exit code:
 * 0, 1 when the key cannot be made (pepper unreadable or short, no
 * randomness), 2 on a usage error.
 */
int apikey_cmd(int argc, char **argv);

/* ==================================================================== */
/* end of API KEYS                                                      */
/* ==================================================================== */

/* ==================================================================== */
/* PRINCIPAL AND AUTHENTICATION (identity-core)                         */
/* ==================================================================== */

/*
 * The contract of this section.
 *
 * 1. Credentials. A route's auth.methods say which credential it takes:
 *    a bearer token in the Authorization field (RFC 6750 section 2.1;
 *    the scheme name in any case, one or more spaces, then a token68),
 *    or an API key in a header field or query parameter. A request that
 *    carries more than one Authorization field, more than one copy of
 *    the API key, both a token and a key, or a credential that is empty
 *    or holds bytes outside its syntax is malformed (401,
 *    invalid_request). Another Authorization scheme ("Basic") counts as
 *    no token at all.
 *
 * 2. Tokens. The token is parsed by jose_parse with the configured
 *    max_token bound. Its issuer is chosen among the route's issuers by
 *    the payload's "iss", compared byte for byte; the signature is then
 *    checked against that issuer's keys only, with its algorithms only,
 *    and only after that are the claims looked at: a forged token
 *    learns nothing about which claims would have passed.
 *
 * 3. Claims (per issuer). "exp", "nbf" and "iat" must be numbers, "iss",
 *    "sub" and "jti" strings, "aud" a string or an array of strings.
 *    exp must lie ahead of now - leeway, nbf and iat must not lie past
 *    now + leeway. "aud" must hold one of the issuer's audiences. Every
 *    claim of the issuer's require list must be present and not null.
 *    With max_lifetime, exp - iat (or exp - now without iat) must not
 *    exceed it. With typ, the header "typ" must match it, ignoring case
 *    and an "application/" prefix. A route's claims requirements are
 *    then checked: the claim at each dotted path must equal the value
 *    (a string, or an integer or boolean written the same way), or be
 *    an array holding it. A path names a top-level claim when one has
 *    exactly that name (claims such as "https://example.com/roles"),
 *    and nested objects otherwise.
 *
 * 4. Scopes come from "scope" (a space-separated string) or, without
 *    it, "scp" (an array of strings, or a space-separated string);
 *    roles from the issuer's roles_claim (an array of strings, or one
 *    string). A claim of the wrong type there refuses the token.
 *
 * 5. Cache. A worker remembers tokens whose signature verified, keyed
 *    by SHA-256 of the whole token, together with the issuer, the
 *    configuration generation, the key store generation and "exp". A
 *    hit skips the signature check only: the token is parsed again and
 *    every claim rule is applied again. An entry is useless once exp
 *    passes, after a reload, and after any key set is fetched again
 *    (so a key withdrawn by its issuer stops being trusted at the next
 *    fetch, not at the token's expiry).
 *
 * 6. Reasons, status 401 unless noted, bearer_error "invalid_token"
 *    unless noted:
 *      auth.missing_credentials   no credential the route takes (no
 *                                 bearer_error)
 *      auth.malformed_request     rule 1 (invalid_request)
 *      auth.token_too_large       over identity.max_token
 *      auth.malformed_token, auth.alg_not_allowed, auth.crit_unsupported,
 *      auth.bad_signature, auth.unknown_key, auth.ambiguous_key,
 *      auth.key_alg_mismatch      from the JOSE section; alg_not_allowed
 *                                 also for an algorithm the issuer does
 *                                 not list
 *      auth.wrong_issuer          "iss" names none of the route's issuers
 *      auth.wrong_audience        "aud" holds none of the audiences
 *      auth.token_expired         exp has passed
 *      auth.token_not_yet_valid   nbf lies ahead
 *      auth.token_issued_in_future  iat lies ahead
 *      auth.lifetime_too_long     over max_lifetime
 *      auth.missing_claim         a required claim is absent (also
 *                                 "iss" and "aud", and a claim a route
 *                                 requires)
 *      auth.bad_claim_type        a registered claim, the scopes or the
 *                                 roles of the wrong JSON type
 *      auth.claim_mismatch        a route's required claim value differs
 *      auth.bad_typ               the header "typ" does not match
 *      auth.keys_unavailable      503, no bearer_error: the issuer has
 *                                 no usable key set
 *      auth.verify_error          503: the crypto library failed
 *      auth.no_memory             503: the request's arena is full
 *      auth.cert_binding_mismatch a token's cnf.x5t#S256 (RFC 8705) is
 *                                 not the thumbprint of the connection's
 *                                 client certificate, or there is none
 *      auth.cert_binding_required the route requires the binding and the
 *                                 token has no cnf.x5t#S256
 *    and the API key reasons of the API KEYS section.
 *
 * 7. Client certificates. On a route whose methods list mtls, a request
 *    that carries no token and no API key is authenticated by the
 *    verified client certificate of its TLS connection: kind AUTH_MTLS,
 *    subject the certificate's identity, credential_id the first 12 hex
 *    digits of its SHA-256. A token or key, when present, is judged
 *    instead (and may be bound to the certificate).
 *
 * 8. Certificate-bound tokens (RFC 8705). A verified token, or an
 *    introspection answer, whose "cnf" holds "x5t#S256" is accepted
 *    only over a connection whose client certificate has that SHA-256
 *    thumbprint (unpadded base64url). With auth.require_cert_binding a
 *    token without it is refused.
 */

#include "config/config.h"
#include "http/http.h"

enum auth_kind {
    AUTH_NONE,
    AUTH_JWT,
    AUTH_API_KEY,
    AUTH_INTROSPECTION,
    AUTH_MTLS, /* a client certificate verified in the TLS handshake */
};

/* Who is calling. Slices live in the request arena. */
struct principal {
    enum auth_kind kind;
    struct slice subject;     /* "sub" ("" when absent), or the consumer
                                 for an API key */
    struct slice issuer;      /* issuer name from config, "" for keys */
    struct slice consumer;    /* API key consumer, the introspection
                                 answer's "client_id", or "" */
    struct slice username;    /* introspection "username", or "" */
    struct slice key_id;      /* JWT "kid" ("" when absent) or API key id */
    struct slice *scopes;     /* "scope" (space separated) or "scp" */
    unsigned nscopes;
    struct slice *roles;      /* from the issuer's roles_claim */
    unsigned nroles;
    const struct json_value *claims;  /* verified payload or the
                                         introspection answer; NULL for
                                         keys */
    struct slice claims_b64;  /* payload segment as received (base64url),
                                 for the forward.claims header; for an
                                 introspection answer, its base64url */
    int64_t expires;          /* unix seconds; 0 when none */
    char credential_id[13];   /* 12 hex of SHA-256 of the credential: the
                                 only trace of it allowed in logs */
};

/* Why a request was refused. Every string is static. */
struct auth_error {
    int status;               /* 401 or 503 */
    const char *reason;       /* an auth.* code listed above */
    const char *detail;       /* fixed sentence, never quotes the token */
    const char *bearer_error; /* RFC 6750: "invalid_token",
                                 "invalid_request" or NULL (no
                                 WWW-Authenticate error attribute) */
};

/*
 * The credential the route asks for, copied out of the request, and
 * the client certificate of the connection. The caller fills peer_*
 * before identity_extract, which keeps them.
 */
struct credential {
    enum auth_kind kind;      /* AUTH_NONE when none was presented */
    struct slice value;       /* arena copy: the token or the API key;
                                 for AUTH_MTLS the certificate identity */
    struct slice peer_identity;        /* identity of the verified client
                                          certificate (SPIFFE URI, DNS
                                          name or CN), printable ASCII;
                                          empty without one. Borrowed */
    const unsigned char *peer_sha256;  /* that certificate's SHA-256
                                          (32 bytes, RFC 8705 x5t#S256);
                                          NULL without one. Borrowed */
};

/*
 * Find the route's credential in the request (Authorization: Bearer,
 * or the API key header field / query parameter; rule 1) and copy it
 * into arena a. h[0..nh) are the request's header fields, query the
 * query string without its '?' (may be empty).
 *
 * Returns AW_OK (cred->kind may be AUTH_NONE), AW_INVALID with err for
 * a malformed request (auth.malformed_request), AW_NOMEM
 * (auth.no_memory).
 */
int identity_extract(const struct config_route_auth *ra,
                     const struct http_header *h, unsigned nh,
                     struct slice query, struct arena *a,
                     struct credential *cred, struct auth_error *err);

/*
 * Per-worker verified-token cache (rule 5). Not thread-safe: one per
 * worker thread. identity_cache_new(0) makes a cache that remembers
 * nothing; NULL means out of memory. All memory is taken here, none
 * per lookup or insert. identity_cache_free accepts NULL.
 */
struct identity_cache;
struct identity_cache *identity_cache_new(unsigned entries);
void identity_cache_free(struct identity_cache *c);

/* What a cache has done since it was made, for metrics. */
struct identity_cache_stats {
    uint64_t hits;      /* signature checks saved */
    uint64_t misses;    /* lookups that found no usable entry */
    uint64_t inserts;   /* tokens remembered */
    uint64_t evictions; /* usable entries pushed out by others */
};

/* Fill st from c; zeros for a NULL cache. */
void identity_cache_stats(const struct identity_cache *c,
                          struct identity_cache_stats *st);

/*
 * Authenticate cred for route auth ra of snapshot cfg. cache may be
 * NULL (no caching). now is wall-clock unix seconds (an argument, so
 * that tests inject time). Slices and the claims tree in p live in a,
 * as does everything the token's parse needs (about three times the
 * token's length).
 *
 * Returns:
 *   AW_OK       p filled;
 *   AW_AGAIN    the token's key is being fetched (unknown kid, or the
 *               issuer's first fetch is in flight): the caller parks the
 *               request and calls again after keystore_generation()
 *               changes or its wait bound passes (then calls with
 *               final = true, and AW_AGAIN is never returned);
 *   AW_INVALID  401, err filled; a missing credential is
 *               auth.missing_credentials with bearer_error NULL;
 *   AW_ERROR    503, err filled: auth.keys_unavailable (the issuer has
 *               no usable keys) or auth.verify_error;
 *   AW_NOMEM    503 auth.no_memory: arena a is exhausted.
 * Nothing of the credential is logged; p->credential_id names it.
 */
int identity_authenticate(const struct config *cfg,
                          const struct config_route_auth *ra,
                          const struct credential *cred,
                          struct identity_cache *cache, int64_t now,
                          bool final, struct arena *a,
                          struct principal *p, struct auth_error *err);

/* ==================================================================== */
/* end of PRINCIPAL AND AUTHENTICATION                                  */
/* ==================================================================== */

/* ==================================================================== */
/* INTROSPECTION: opaque bearer tokens judged by an RFC 7662 endpoint   */
/* ==================================================================== */

/*
 * The contract of this section.
 *
 * 1. Which tokens. A route whose auth.methods list introspection takes
 *    bearer tokens (rule 1 of PRINCIPAL AND AUTHENTICATION). When the
 *    route also takes jwt, a token shaped like a compact JWS (three
 *    non-empty base64url segments joined by two dots) is verified as a
 *    JWT and never introspected, whatever the verification concludes;
 *    every other token is introspected. A route that takes
 *    introspection but not jwt introspects every bearer token, JWS or
 *    not: the endpoint decides.
 *
 * 2. The request. POST to identity.introspection.endpoint with the form
 *    token=...&token_type_hint=access_token, Accept: application/json,
 *    the client authenticated with HTTP Basic over the form-encoded id
 *    and secret (RFC 6749 section 2.3.1) or with client_id and
 *    client_secret in the form. No redirect is followed, no proxy is
 *    used, the answer is bounded by max_response and the exchange by
 *    timeout. Each worker drives its requests from its own event loop
 *    through one libcurl multi handle; a request waiting for an answer
 *    is parked and costs no thread.
 *
 * 3. The answer. Status 200 and a body the strict JSON parser accepts,
 *    holding an object whose "active" is a boolean; when it is true,
 *    "exp", "iat" and "nbf" must be numbers if present, "sub",
 *    "client_id", "username", "iss" and "scope" strings, "aud" a
 *    string or an array of strings. Anything else is a failure of the
 *    server, not a judgement of the token.
 *
 * 4. The judgement, made on every request, from the network or from
 *    the cache: "active" false is auth.token_inactive; "exp" must lie
 *    ahead of now - leeway, "nbf" not past now + leeway; with
 *    audiences configured "aud" must hold one, with issuer configured
 *    "iss" must equal it; then the route's claims requirements are
 *    checked against the answer as they are against a JWT payload. The
 *    principal takes sub, scope (split at spaces), client_id (as the
 *    consumer), username, exp and roles (roles_claim), with kind
 *    AUTH_INTROSPECTION and issuer "introspection".
 *
 * 5. Cache. Each worker keeps answers keyed by SHA-256 of the token
 *    (never the token) and the configuration generation: an active
 *    answer until min(exp, now + cache_ttl), an inactive one for
 *    negative_ttl, failures never. Bodies over INTROSPECT_CACHE_BODY
 *    bytes are not kept. The table holds cache_entries answers and
 *    evicts within a bounded window. identity_introspect_evict drops a
 *    token from every worker's cache before that worker's next lookup.
 *    Concurrent lookups of one token on one worker share one request;
 *    at most max_in_flight requests run per worker.
 *
 * 6. Reasons:
 *      auth.token_inactive              401 invalid_token
 *      auth.introspection_unavailable   503: no answer, a status other
 *                                       than 200, a timeout, an answer
 *                                       over max_response or
 *                                       malformed (rule 3)
 *      auth.introspection_busy          503: max_in_flight requests are
 *                                       running on this worker
 *    and auth.token_expired, auth.token_not_yet_valid,
 *    auth.wrong_audience, auth.wrong_issuer, auth.missing_claim,
 *    auth.claim_mismatch, auth.bad_claim_type (roles), auth.no_memory
 *    as for tokens. The endpoint's URL is logged; tokens, the secret
 *    and answer bodies never are.
 */

#include "loop/loop.h"

/* Largest answer body a cache entry keeps. */
#define INTROSPECT_CACHE_BODY 4096

/* A worker's introspection client: multi handle, requests, cache. */
struct introspector;

/*
 * Make the client of the worker whose loop is l. cache_entries is the
 * size of its answer cache (0: none). on_done(arg) is called from the
 * loop, never from inside identity_authenticate, after one or more
 * answers arrived or requests failed: parked requests of the worker
 * should call identity_authenticate again. Returns AW_OK with *out set,
 * AW_NOMEM, or AW_ERROR when libcurl cannot start.
 */
int introspect_new(struct loop *l, unsigned cache_entries,
                   void (*on_done)(void *arg), void *arg,
                   struct introspector **out);

/* Abort every request and free the client; accepts NULL. Call before
   the loop's fini, on the loop's thread or after it ended. */
void introspect_free(struct introspector *in);

/*
 * Let the per-worker cache reach the worker's introspection client,
 * which identity_authenticate finds through it. in may be NULL.
 */
void identity_cache_set_introspector(struct identity_cache *c,
                                     struct introspector *in);

/*
 * The end of a batch of loop events: free sockets libcurl closed, take
 * the finished requests, apply evictions, and call on_done when a
 * request finished. Call it once per batch from the loop's on_batch.
 */
void introspect_batch(struct introspector *in);

/* What a client has done since it was made, for metrics. */
struct introspect_stats {
    uint64_t requests;  /* requests sent to the endpoint */
    uint64_t failures;  /* of which came to no usable answer */
    uint64_t hits;      /* answers taken from the cache */
    uint64_t coalesced; /* lookups that joined a request in flight */
    uint64_t busy;      /* lookups refused over max_in_flight */
};
void introspect_stats(const struct introspector *in,
                      struct introspect_stats *st);

/*
 * Drop token[0..len) from the answer cache of every worker, before the
 * next lookup each makes; an answer in flight at the time is delivered
 * but not cached. identity_introspect_evict_digest takes SHA-256 of the
 * token instead. Any thread; never fails: the list of recent
 * evictions is bounded, and a worker that missed some of them drops its
 * whole cache instead.
 */
void identity_introspect_evict(const char *token, size_t len);
void identity_introspect_evict_digest(const unsigned char digest[32]);

/* ==================================================================== */
/* end of INTROSPECTION                                                 */
/* ==================================================================== */

#endif
