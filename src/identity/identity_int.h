/*
 * identity internals: declarations shared by the files of src/identity
 * (and their tests and fuzz targets) but not by other modules. Like
 * identity.h, each part is one delimited section.
 */
#ifndef APIWARD_IDENTITY_INT_H
#define APIWARD_IDENTITY_INT_H

#include <stddef.h>

#include "identity/identity.h"

/* ==================================================================== */
/* API KEYS (apikey helper)                                             */
/* ==================================================================== */

/*
 * apikey_store_load without files: text[0..len) is the content of a
 * keys file, named name in messages, and pepper[0..pepper_len) the
 * pepper as it would be after reading. Same checks and results; the
 * fuzz target drives the keys-file parser through it.
 */
int apikey_store_parse(const char *name, const char *text, size_t len,
                       const unsigned char *pepper, size_t pepper_len,
                       char **revoked, size_t nrevoked,
                       struct apikey_store **out, char *err, size_t errlen);

/* ==================================================================== */
/* end of API KEYS                                                      */
/* ==================================================================== */

/* ==================================================================== */
/* PRINCIPAL AND AUTHENTICATION (identity-core)                         */
/* ==================================================================== */

/* Fill err with a 401 refusal of a token and return AW_INVALID. */
int identity_refuse(struct auth_error *err, const char *reason,
                    const char *detail);

/*
 * Fill err with a refusal of the given status, reason, detail and RFC
 * 6750 error (may be NULL), and return rc.
 */
int identity_fail(struct auth_error *err, int rc, int status,
                  const char *reason, const char *detail,
                  const char *bearer_error);

/*
 * The value at a claim path in a payload object: the member named path
 * exactly when there is one, else the dotted path through nested
 * objects. NULL when absent or when a step is not an object.
 */
const struct json_value *claims_lookup(const struct json_value *payload,
                                       const char *path);

/*
 * The issuer's rules on a verified token (rule 3 of the section in
 * identity.h): types of the registered claims, "iss", "aud", the
 * times, the require list, max_lifetime and the header "typ". Returns
 * AW_OK or AW_INVALID with err filled.
 */
int claims_check(const struct config_issuer *iss,
                 const struct json_value *header,
                 const struct json_value *payload, int64_t now,
                 struct auth_error *err);

/* The route's claims requirements; AW_OK or AW_INVALID with err. */
int claims_check_route(const struct config_route_auth *ra,
                       const struct json_value *payload,
                       struct auth_error *err);

/*
 * Fill the token-derived parts of p: subject, scopes, roles, expires.
 * Arrays are allocated from a; strings point into the payload tree.
 * Returns AW_OK, AW_INVALID (auth.bad_claim_type) or AW_NOMEM, with
 * err filled.
 */
int principal_from_claims(const struct config_issuer *iss,
                          const struct json_value *payload, struct arena *a,
                          struct principal *p, struct auth_error *err);

/* SHA-256 of a credential, and the 12 hex digits that name it. */
#define IDENTITY_DIGEST_LEN 32
void identity_digest(struct slice cred, unsigned char out[IDENTITY_DIGEST_LEN]);
void identity_credential_id(const unsigned char d[IDENTITY_DIGEST_LEN],
                            char out[13]);

/* What a cache entry is bound to, besides the token's digest. */
struct identity_cache_key {
    unsigned char digest[IDENTITY_DIGEST_LEN];
    unsigned issuer;       /* index in config.issuers */
    uint64_t cfg_gen;      /* config.generation */
    uint64_t keys_gen;     /* keystore_generation() before the keys were
                              taken */
};

/*
 * True when the cache holds k and the entry's exp lies after now; the
 * token's signature then needs no check. cache may be NULL.
 */
bool identity_cache_lookup(struct identity_cache *c,
                           const struct identity_cache_key *k, int64_t now);

/*
 * Remember a token whose signature verified, until exp (INT64_MAX
 * when it has none). Evicts within a bounded window; never allocates.
 * cache may be NULL.
 */
void identity_cache_insert(struct identity_cache *c,
                           const struct identity_cache_key *k, int64_t exp,
                           int64_t now);

/* ==================================================================== */
/* end of PRINCIPAL AND AUTHENTICATION                                  */
/* ==================================================================== */

/* ==================================================================== */
/* INTROSPECTION                                                        */
/* ==================================================================== */

struct introspector;

/* The worker's introspection client reached through its cache, or NULL. */
struct introspector *identity_cache_introspector(const struct identity_cache *c);

/*
 * Classify an answer body[0..len) (rule 3 of INTROSPECTION in
 * identity.h), parsing it into a with at most max bytes. Returns AW_OK
 * with *out the answer object when "active" is true; AW_DECLINED when it
 * is false; AW_INVALID or AW_TOOBIG with *detail a fixed sentence for a
 * malformed answer; AW_NOMEM when a is full.
 */
int introspect_answer_parse(const char *body, size_t len, size_t max,
                            struct arena *a, const struct json_value **out,
                            const char **detail);

/*
 * Judge an active answer (rule 4) at now (unix seconds) for route auth
 * ra and fill p; body[0..len) is the answer as received, for
 * p->claims_b64. Returns AW_OK, AW_INVALID (401, err filled) or AW_NOMEM.
 */
int introspect_answer_judge(const struct config_introspection *ci,
                            const struct config_route_auth *ra,
                            const struct json_value *ans, struct slice body,
                            int64_t now, struct arena *a, struct principal *p,
                            struct auth_error *err);

/*
 * The authentication of an introspected token, with its SHA-256 in
 * digest; arguments and results as identity_authenticate, plus 503
 * auth.introspection_unavailable and auth.introspection_busy.
 */
int introspect_authenticate(const struct config *cfg,
                            const struct config_route_auth *ra,
                            struct slice token,
                            const unsigned char digest[IDENTITY_DIGEST_LEN],
                            struct introspector *in, int64_t now, bool final,
                            struct arena *a, struct principal *p,
                            struct auth_error *err);

/*
 * The answer cache of one worker (rule 5), exposed for tests. Not
 * thread-safe. introspect_cache_new(0) remembers nothing; NULL means
 * out of memory.
 */
struct introspect_cache;
struct introspect_cache *introspect_cache_new(unsigned entries);
void introspect_cache_free(struct introspect_cache *c);

/*
 * Until when (wall ms) an answer may be kept: an active one until
 * min(exp, now + cache_ttl) (exp in unix seconds, 0 when absent), an
 * inactive one for negative_ttl. A result <= now_ms means "not kept".
 */
int64_t introspect_cache_until(uint64_t cache_ttl_ms, uint64_t negative_ttl_ms,
                               bool active, int64_t exp, int64_t now_ms);

/*
 * Keep an answer for (digest, gen) until until_ms; body[0..len) is
 * copied (at most INTROSPECT_CACHE_BODY bytes, else nothing is kept).
 * Evicts within a bounded window. Never fails the caller.
 */
void introspect_cache_put(struct introspect_cache *c,
                          const unsigned char digest[IDENTITY_DIGEST_LEN],
                          uint64_t gen, bool active, struct slice body,
                          int64_t until_ms, int64_t now_ms);

/*
 * The answer kept for (digest, gen) at now_ms: AW_OK with *active and
 * *body (borrowed until the next call on c), or AW_DECLINED.
 */
int introspect_cache_get(struct introspect_cache *c,
                         const unsigned char digest[IDENTITY_DIGEST_LEN],
                         uint64_t gen, int64_t now_ms, bool *active,
                         struct slice *body);

/* Drop the entries of one token, or of every token. */
void introspect_cache_drop(struct introspect_cache *c,
                           const unsigned char digest[IDENTITY_DIGEST_LEN]);
void introspect_cache_clear(struct introspect_cache *c);

/* Number of answers kept, for tests. */
unsigned introspect_cache_count(const struct introspect_cache *c);

/*
 * Apply the process-wide evictions this cache has not seen yet; *seen
 * is the eviction count it has seen, updated.
 */
void introspect_cache_sync(struct introspect_cache *c, uint64_t *seen);

/* ==================================================================== */
/* end of INTROSPECTION                                                 */
/* ==================================================================== */

#endif
